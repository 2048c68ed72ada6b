// MathJax 3 settings of the run output page (see paved/pipelines/mathjax.py): the delimiters and environments
// JupyterLab and nbconvert typeset, no menu (its settings live in storage, which the sandboxed page has none of).
window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    tags: "ams",
  },
  options: {enableMenu: false, ignoreHtmlClass: "tex2jax_ignore", processHtmlClass: "tex2jax_process"},
  svg: {fontCache: "global"},
};
