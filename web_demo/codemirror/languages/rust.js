export { rust as support } from "@codemirror/lang-rust";
