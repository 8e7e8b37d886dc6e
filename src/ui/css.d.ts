/** Stylesheets are bundled by esbuild (scripts/build-ui.ts) into /assets/app.css. */
declare module "*.css";
