// The code editor: CodeMirror 6 (bundled in vendor/) with ghost text. It draws a
// suggestion at the caret and keeps it while the user types through it; Tab accepts it,
// Ctrl+→ (Alt+→ on macOS) its next word, Esc / a click / a caret move dismiss it.
// What to suggest is app.js's business: this module only shows, accepts and reports.

import {
  Compartment, Decoration, EditorState, EditorView, HighlightStyle, Prec, StateEffect, StateField,
  Transaction, WidgetType, bracketMatching, defaultKeymap, highlightActiveLine,
  highlightActiveLineGutter, highlightSpecialChars, history, historyKeymap, indentLess,
  indentUnit, isolateHistory, keymap, lineNumbers, placeholder, syntaxHighlighting, tags,
} from "./vendor/codemirror.js";

const INDENT = "    ";

// Each language's module in vendor/languages/ and the options of its `support`.
const LANGUAGE_SUPPORT = {
  c: ["cpp"], cpp: ["cpp"], go: ["go"], java: ["java"], javascript: ["javascript"],
  kotlin: ["kotlin"], php: ["php"], python: ["python"], rust: ["rust"],
  typescript: ["javascript", { typescript: true }],
};

// One "accept next word": any separators, then one word; the separators alone where no
// word follows. The same rule as training.evaluate.next_word_length (VS Code's Ctrl+→).
const NEXT_WORD = /^(\W*\w+|\W+)/;

export function nextWordLength(suggestion) {
  const found = NEXT_WORD.exec(suggestion);
  return found ? found[0].length : 0;
}

// Syntax colours, each at least 4.5:1 against the page's white (WCAG AA).
const highlightStyle = HighlightStyle.define([
  { tag: [tags.keyword, tags.modifier, tags.controlKeyword, tags.operatorKeyword], color: "#cf222e" },
  { tag: [tags.string, tags.special(tags.string), tags.regexp, tags.escape, tags.character], color: "#0a3069" },
  { tag: [tags.number, tags.bool, tags.null, tags.atom, tags.literal], color: "#0550ae" },
  { tag: tags.comment, color: "#57606a", fontStyle: "italic" },
  { tag: [tags.function(tags.variableName), tags.function(tags.propertyName),
    tags.definition(tags.variableName), tags.macroName], color: "#6639ba" },
  { tag: [tags.typeName, tags.className, tags.namespace, tags.standard(tags.typeName)], color: "#953800" },
  { tag: [tags.meta, tags.annotation, tags.processingInstruction], color: "#116329" },
  { tag: tags.invalid, color: "#82071e" },
]);

// ---- the suggestion as editor state -----------------------------------------------

// {text, retyped, at} or null: `text` shown at offset `at`; accepting it replaces the
// `retyped` characters after `at` (a closing bracket the suggestion types again).
const setGhost = StateEffect.define();

// Typing the first characters of the suggestion keeps the rest on screen; any other
// edit or caret move removes it.
function typedThrough(ghost, transaction) {
  let inserted = null;
  let single = true;
  transaction.changes.iterChanges((fromA, toA, fromB, toB, text) => {
    single = single && inserted === null && fromA === ghost.at && toA === fromA;
    inserted = text.toString();
  });
  const rest = ghost.text.length - (inserted ?? "").length;
  // What it retypes after the caret stays the same while the rest still holds it.
  if (!single || !inserted || !ghost.text.startsWith(inserted) || rest < Math.max(ghost.retyped, 1)) {
    return null;
  }
  const at = ghost.at + inserted.length;
  const caret = transaction.state.selection.main;
  return caret.empty && caret.head === at ? { ...ghost, text: ghost.text.slice(inserted.length), at } : null;
}

const ghostField = StateField.define({
  create: () => null,
  update(ghost, transaction) {
    for (const effect of transaction.effects) if (effect.is(setGhost)) return effect.value;
    if (!ghost) return null;
    if (transaction.docChanged) return typedThrough(ghost, transaction);
    const caret = transaction.state.selection.main;
    return caret.empty && caret.head === ghost.at ? ghost : null;
  },
});

// ---- drawing -----------------------------------------------------------------------

// The suggestion's first line at the caret, with the touch chip after it when there is one.
class InlineGhost extends WidgetType {
  constructor(text, chip) {
    super();
    this.text = text;
    this.chip = chip;
  }

  eq(other) {
    return other.text === this.text && other.chip === this.chip;
  }

  toDOM() {
    const wrapper = document.createElement("span");
    const ghost = wrapper.appendChild(document.createElement("span"));
    ghost.className = "cm-ghost";
    ghost.textContent = this.text;
    if (this.chip) wrapper.append(this.chip.element());
    return wrapper;
  }

  // The chip's own events are its own; a click on the ghost text is the editor's (it dismisses).
  ignoreEvent(event) {
    return Boolean(this.chip) && event.target instanceof Element && event.target.closest(".cm-ghost-accept") !== null;
  }
}

// The lines after the first, drawn as a block under the caret's line.
class BlockGhost extends WidgetType {
  constructor(text) {
    super();
    this.text = text;
  }

  eq(other) {
    return other.text === this.text;
  }

  toDOM() {
    const block = document.createElement("div");
    block.className = "cm-ghost cm-ghost-block";
    block.textContent = this.text;
    return block;
  }
}

function ghostDecorations(state, chip) {
  const ghost = state.field(ghostField);
  if (!ghost || !ghost.text) return Decoration.none;
  const [first, ...more] = ghost.text.split("\n");
  const ranges = [Decoration.widget({ widget: new InlineGhost(first, chip), side: 1 }).range(ghost.at)];
  if (more.length) {
    const lineEnd = state.doc.lineAt(ghost.at).to;
    ranges.push(Decoration.widget({ widget: new BlockGhost(more.join("\n")), side: 1, block: true }).range(lineEnd));
  }
  return Decoration.set(ranges);
}

// ---- the editor --------------------------------------------------------------------

/**
 * An editor in `parent`. `on` receives:
 *   edited()            the user changed the text (not while composing): ask for a suggestion
 *   dismissed()         the user dismissed the suggestion or moved the caret away
 *   typed(count)        characters the user's keys inserted (not pasted, not accepted)
 *   accepted(count)     characters one accept inserted (Tab, Ctrl+→ or the chip)
 *   suggestionShown(text)  the ghost text on screen changed ("" when none)
 * `touch`: draw a tappable "accept" chip beside the ghost text.
 */
export function createEditor(parent, { on, touch = false, attributes = {} }) {
  const language = new Compartment();
  let languageRequests = 0; // a language picked later wins over one still loading

  function ghost() {
    return view.state.field(ghostField);
  }

  function caret() {
    const selection = view.state.selection.main;
    return selection.empty ? selection.head : null;
  }

  // Inserts `length` characters of the suggestion (all of it: also replaces what it retypes).
  function accept(length) {
    const current = ghost();
    if (!current || caret() !== current.at || length <= 0) return false;
    const whole = length >= current.text.length;
    const text = current.text.slice(0, length);
    view.dispatch({
      changes: { from: current.at, to: current.at + (whole ? current.retyped : 0), insert: text },
      selection: { anchor: current.at + text.length },
      annotations: isolateHistory.of("full"), // one undo step of its own
      userEvent: "input.complete",
      scrollIntoView: true,
    });
    on.accepted(text.length);
    return true;
  }

  const chip = touch && {
    element() {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "cm-ghost-accept";
      button.textContent = "Accept";
      button.setAttribute("aria-label", "Accept the suggestion");
      // Keep the focus (and a phone's keyboard) in the editor.
      button.addEventListener("pointerdown", (event) => event.preventDefault());
      button.addEventListener("mousedown", (event) => event.preventDefault());
      button.addEventListener("click", () => {
        const current = ghost();
        if (current) accept(current.text.length);
        view.focus();
      });
      return button;
    },
  };

  function dismiss() {
    if (ghost()) view.dispatch({ effects: setGhost.of(null) });
    on.dismissed();
  }

  const suggestionKeys = Prec.highest(keymap.of([
    {
      key: "Tab",
      run: () => {
        const current = ghost();
        if (current && accept(current.text.length)) return true;
        view.dispatch(view.state.replaceSelection(INDENT), { userEvent: "input.indent", scrollIntoView: true });
        return true;
      },
      shift: indentLess,
    },
    {
      key: "Ctrl-ArrowRight",
      mac: "Alt-ArrowRight",
      run: () => Boolean(ghost()) && accept(nextWordLength(ghost().text)),
    },
    {
      // Esc, arrows, Home/End, Page Up/Down: the suggestion goes, the key does what it does.
      any: (_view, event) => {
        const wordAccept = event.key === "ArrowRight" && (event.ctrlKey || event.altKey) && ghost();
        if (!wordAccept && /^(Escape|Arrow|Page|Home$|End$)/.test(event.key)) dismiss();
        return false;
      },
    },
  ]));

  const reporter = EditorView.updateListener.of((update) => {
    const now = update.state.field(ghostField)?.text ?? "";
    if (now !== (update.startState.field(ghostField)?.text ?? "")) on.suggestionShown(now);
    if (!update.docChanged) return;
    for (const transaction of update.transactions) {
      const typing = transaction.isUserEvent("input")
        && !["input.paste", "input.drop", "input.complete"].some((event) => transaction.isUserEvent(event));
      if (typing) {
        let count = 0;
        transaction.changes.iterChanges((fromA, toA, fromB, toB) => (count += toB - fromB));
        on.typed(count);
      }
    }
    // A text set by the page (an example) is not the user's edit: nothing to suggest yet.
    const byUser = update.transactions.some((transaction) => transaction.annotation(Transaction.userEvent));
    if (byUser && !update.view.composing) on.edited();
  });

  const view = new EditorView({
    parent,
    state: EditorState.create({
      // The browser's own caret and selection, not CodeMirror's drawSelection(): that
      // measures the layout again after every key, and while keys keep coming Chromium
      // runs the worker's answers only after the input and the frames it brings, so an
      // answer then waited about four times as long and came after the next key (stale).
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(),
        bracketMatching(), highlightActiveLine(),
        syntaxHighlighting(highlightStyle),
        indentUnit.of(INDENT), EditorState.tabSize.of(4),
        placeholder("Start typing code…"),
        suggestionKeys, keymap.of([...defaultKeymap, ...historyKeymap]),
        ghostField, EditorView.decorations.compute([ghostField], (state) => ghostDecorations(state, chip)),
        language.of([]),
        // tabindex: the scrolling region has keyboard-focusable content as screen readers see it
        EditorView.contentAttributes.of({
          spellcheck: "false", autocorrect: "off", autocapitalize: "off", tabindex: "0", ...attributes,
        }),
        EditorView.domEventHandlers({
          mousedown: (event) => {
            if (!(event.target instanceof Element && event.target.closest(".cm-ghost-accept"))) dismiss();
            return false;
          },
          blur: () => dismiss(),
        }),
        reporter,
      ],
    }),
  });

  return {
    view,
    text: () => view.state.doc.toString(),
    caret,
    /** The suggestion on screen: {text, retyped, at} or null. */
    ghost,
    /** Shows `text` at the caret (or nothing for ""). */
    show(text, retyped) {
      const at = caret();
      view.dispatch({ effects: setGhost.of(text && at !== null ? { text, retyped, at } : null) });
    },
    /** Replaces the whole text (not an edit of the user's: nothing is counted or asked). */
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, effects: setGhost.of(null) });
    },
    /** Highlights as `id` (one of LANGUAGE_SUPPORT's, else plain text). */
    async setLanguage(id) {
      const request = ++languageRequests;
      const [module, options] = LANGUAGE_SUPPORT[id] ?? [];
      const support = module ? (await import(`./vendor/languages/${module}.js`)).support(options) : [];
      if (request === languageRequests) view.dispatch({ effects: language.reconfigure(support) });
    },
    focus: () => view.focus(),
  };
}
