/** The peer's version, reported by `GET /api/health` (kept equal to package.json's). */
export const VERSION = "0.1.0";
