/* CodeMirror 6 and Lezer (MIT licence, codemirror.net), bundled by web_demo/codemirror/build.sh */
import{e as p}from"../chunks/U5R6757G.js";import"../chunks/HIZR3XOV.js";import"../chunks/CNA3GNGY.js";import"../chunks/6G5ULBGN.js";export{p as support};
