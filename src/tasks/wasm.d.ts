/** The QuickJS engine's wasm, bundled by wrangler as a compiled module (CompiledWasm rule). */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
