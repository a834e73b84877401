export { php as support } from "@codemirror/lang-php";
