// The CodeMirror 6 core the demo uses, bundled into web_demo/vendor/codemirror.js by build.sh.
// Each language is its own module (languages/), loaded when the page picks it.
export {
  Compartment, EditorState, Prec, StateEffect, StateField, Transaction,
} from "@codemirror/state";
export {
  Decoration, EditorView, WidgetType, highlightActiveLine,
  highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers, placeholder,
} from "@codemirror/view";
export {
  defaultKeymap, history, historyKeymap, indentLess, isolateHistory,
} from "@codemirror/commands";
export { HighlightStyle, bracketMatching, indentUnit, syntaxHighlighting } from "@codemirror/language";
export { tags } from "@lezer/highlight";
