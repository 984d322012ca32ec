// The Worker's entry: instantiate the engine from the bundled .wasm (Workers compile `.wasm`
// imports to a WebAssembly.Module), then serve the handler.
import { initSync } from "@gatepost/wasm/web";
import module from "@gatepost/wasm/web/gatepost_wasm_bg.wasm";

initSync({ module });

export { default } from "./handler.js";
