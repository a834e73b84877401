export { cpp as support } from "@codemirror/lang-cpp";
