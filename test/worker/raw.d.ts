/** Vite's `?raw` import: a file's text (the route table test reads src/index.ts). */
declare module "*?raw" {
  const text: string;
  export default text;
}
