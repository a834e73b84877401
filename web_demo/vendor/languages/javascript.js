/* CodeMirror 6 and Lezer (MIT licence, codemirror.net), bundled by web_demo/codemirror/build.sh */
import{e as p}from"../chunks/SWD2LZOC.js";import"../chunks/ZHKMYPR6.js";import"../chunks/6TNS3DXB.js";import"../chunks/IPVHEG76.js";export{p as support};
