import variant from "@jitl/quickjs-wasmfile-release-sync";
import wasmModule from "../../node_modules/@jitl/quickjs-wasmfile-release-sync/dist/emscripten-module.wasm";
import { type QuickJSWASMModule, newQuickJSWASMModuleFromVariant, newVariant } from "quickjs-emscripten-core";

// The wasm is imported as a module, so the bundler ships it compiled; the library never fetches it.
const workerdVariant = newVariant(variant, { wasmModule });

let loaded: Promise<QuickJSWASMModule> | undefined;

/** The QuickJS engine, instantiated once per isolate (a failed load is retried next time). */
export function quickjs(): Promise<QuickJSWASMModule> {
  loaded ??= newQuickJSWASMModuleFromVariant(workerdVariant).catch((err: unknown) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}

/** Drops the instance after the engine itself failed (not the program): the next task gets a fresh one. */
export function discardQuickjs(): void {
  loaded = undefined;
}
