"use strict";(self.rspackChunkpaved_lab=self.rspackChunkpaved_lab||[]).push([[655],{475(e,a,o){var r=o(601),t=o.n(r),p=o(314),d=(o.n(p))()(t());d.push([e.id,`/* Paved lab extension: Catalog sidebar and Lineage view. Colours come from JupyterLab's theme variables. */

.paved-catalog {
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-size: var(--jp-ui-font-size1);
  min-width: 280px;
  overflow: auto;
}

.paved-catalog-body { padding: 8px 10px; }
.paved-catalog-header h2 { font-size: var(--jp-ui-font-size2); margin: 4px 0 8px; text-transform: uppercase; letter-spacing: 0.04em; }
.paved-catalog-search { width: 100%; box-sizing: border-box; margin-bottom: 8px; }
.paved-muted { color: var(--jp-ui-font-color2); }
.paved-error { color: var(--jp-error-color1); background: var(--jp-error-color3); padding: 4px 6px; border-radius: 3px; margin: 6px 0; }
.paved-status { color: var(--jp-success-color1); margin: 4px 0; }

.paved-facets { display: flex; flex-direction: column; gap: 4px; margin-bottom: 6px; }
.paved-facet { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; }
.paved-facet-name { font-weight: 600; min-width: 72px; text-transform: capitalize; color: var(--jp-ui-font-color2); }
.paved-chip {
  border: 1px solid var(--jp-border-color1); border-radius: 10px; background: var(--jp-layout-color2);
  color: var(--jp-ui-font-color1); padding: 1px 8px; cursor: pointer; font-size: var(--jp-ui-font-size0);
}
.paved-chip--active { background: var(--jp-brand-color1); color: white; border-color: var(--jp-brand-color1); }
.paved-chip-count { opacity: 0.7; }

.paved-results { list-style: none; padding: 0; margin: 0; }
.paved-result { border-bottom: 1px solid var(--jp-border-color2); }
.paved-result-open {
  display: flex; flex-direction: column; align-items: flex-start; gap: 2px; width: 100%; text-align: left;
  background: none; border: none; padding: 6px 2px; cursor: pointer; color: inherit; font: inherit;
}
.paved-result-open:hover { background: var(--jp-layout-color2); }
.paved-result-name { font-weight: 600; color: var(--jp-content-link-color); }
.paved-result-description { color: var(--jp-ui-font-color1); }

.paved-tags { display: inline-flex; flex-wrap: wrap; gap: 3px; }
.paved-tag { background: var(--jp-layout-color3); border-radius: 3px; padding: 0 5px; font-size: var(--jp-ui-font-size0); }

.paved-button {
  border: 1px solid var(--jp-border-color1); background: var(--jp-layout-color2); color: var(--jp-ui-font-color1);
  border-radius: 3px; padding: 2px 8px; cursor: pointer; font-size: var(--jp-ui-font-size1);
}
.paved-button:disabled { opacity: 0.5; cursor: default; }
.paved-button--active { background: var(--jp-brand-color1); color: white; border-color: var(--jp-brand-color1); }
.paved-link { background: none; border: none; padding: 0; color: var(--jp-content-link-color); cursor: pointer; font: inherit; }
.paved-pager { display: flex; align-items: center; justify-content: space-between; margin-top: 8px; }

.paved-dataset-name { margin: 8px 0 0; word-break: break-all; }
.paved-dataset-namespace { font-family: var(--jp-code-font-family); font-size: var(--jp-ui-font-size0); word-break: break-all; }
.paved-actions { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0; }
.paved-alert { background: var(--jp-warn-color3); color: var(--jp-warn-color0); padding: 4px 6px; border-radius: 3px; margin: 4px 0; }

.paved-table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
.paved-table th, .paved-table td { text-align: left; padding: 2px 6px 2px 0; vertical-align: top; border-bottom: 1px solid var(--jp-border-color3); }
.paved-facts th { width: 90px; color: var(--jp-ui-font-color2); font-weight: normal; }
.paved-location { font-family: var(--jp-code-font-family); word-break: break-all; }
.paved-field-description { display: block; color: var(--jp-ui-font-color2); }
.paved-pii { border-radius: 3px; padding: 0 5px; margin-right: 4px; font-size: var(--jp-ui-font-size0); font-weight: 600; }
.paved-pii--suggested { background: var(--jp-warn-color3); color: var(--jp-warn-color0); border: 1px dashed var(--jp-warn-color1); }
.paved-pii--confirmed { background: var(--jp-error-color1); color: white; }
.paved-pii--rejected { background: var(--jp-layout-color3); color: var(--jp-ui-font-color2); text-decoration: line-through; }
.paved-preview-scroll { overflow: auto; max-height: 320px; border: 1px solid var(--jp-border-color2); }
.paved-preview { font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size); white-space: nowrap; }
.paved-preview th { position: sticky; top: 0; background: var(--jp-layout-color2); }

/* Lineage view */
.paved-lineage { background: var(--jp-layout-color1); color: var(--jp-ui-font-color1); }
.paved-lineage-body { display: flex; flex-direction: column; height: 100%; }
.paved-lineage-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; padding: 8px 12px; border-bottom: 1px solid var(--jp-border-color2); }
.paved-lineage-directions { display: inline-flex; }
.paved-lineage-directions .paved-button { border-radius: 0; }
.paved-lineage-directions .paved-button:first-child { border-radius: 3px 0 0 3px; }
.paved-lineage-directions .paved-button:last-child { border-radius: 0 3px 3px 0; }
.paved-lineage-depth { display: inline-flex; align-items: center; gap: 4px; }
.paved-lineage-depth-input { width: 48px; }
.paved-lineage-canvas { flex: 1; overflow: auto; padding: 8px; }
.paved-lineage-legend { display: flex; gap: 12px; padding: 4px 12px; border-top: 1px solid var(--jp-border-color2); font-size: var(--jp-ui-font-size0); }
.paved-legend::before { content: ''; display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; vertical-align: middle; }
.paved-legend--dataset::before { background: #e3f2fd; border: 1px solid #1976d2; }
.paved-legend--job::before { background: #fff3e0; border: 1px solid #ef6c00; }
.paved-legend--locked::before { background: #eeeeee; border: 1px dashed #9e9e9e; }

.paved-lineage-edge { fill: none; stroke: var(--jp-ui-font-color2); stroke-width: 1.5; }
.paved-lineage-arrowhead { fill: var(--jp-ui-font-color2); }
.paved-lineage-node { cursor: pointer; }
.paved-lineage-node rect { stroke-width: 1.5; }
.paved-lineage-node--dataset rect { fill: #e3f2fd; stroke: #1976d2; }
.paved-lineage-node--job rect { fill: #fff3e0; stroke: #ef6c00; }
.paved-lineage-node--center rect { stroke-width: 3.5; }
.paved-lineage-node--locked { cursor: not-allowed; }
.paved-lineage-node--locked rect { fill: #eeeeee; stroke: #9e9e9e; stroke-dasharray: 4 3; }
.paved-lineage-node:not(.paved-lineage-node--locked):hover rect { filter: brightness(0.95); }
.paved-lineage-kind { font-size: 9px; letter-spacing: 0.08em; fill: #555; }
.paved-lineage-label { font-size: 13px; font-weight: 600; fill: #212121; }
.paved-lineage-node--locked .paved-lineage-label { fill: #757575; font-style: italic; }
.paved-lineage-lock path { stroke: #616161; }
.paved-lineage-lock rect { fill: #616161; }

/* Promote to pipeline dialog */
.paved-promote { min-width: 480px; max-width: 640px; font-size: var(--jp-ui-font-size1); }
.paved-promote-intro { margin: 0 0 10px; }
.paved-promote-grid { display: grid; grid-template-columns: max-content 1fr; gap: 6px 12px; align-items: start; }
.paved-promote-label { padding-top: 4px; font-weight: 600; }
.paved-promote-section { grid-column: 1 / -1; margin-top: 8px; font-weight: 600; color: var(--jp-ui-font-color2);
  border-bottom: 1px solid var(--jp-border-color2); padding-bottom: 2px; }
.paved-promote-input[type='text'], select.paved-promote-input { width: 100%; box-sizing: border-box; }
.paved-promote-input.paved-promote-invalid { border-color: var(--jp-error-color1); outline: 1px solid var(--jp-error-color1); }
.paved-promote-hint { font-size: var(--jp-ui-font-size0); margin-top: 1px; }
.paved-promote-field-error { color: var(--jp-error-color1); font-size: var(--jp-ui-font-size0); margin-top: 2px; }
.paved-promote-problems ul { margin: 4px 0 0; padding-left: 18px; }
.paved-promote-progress { display: flex; align-items: center; gap: 10px; min-width: 320px; padding: 8px 0; }
.paved-spinner {
  width: 16px; height: 16px; border-radius: 50%; border: 2px solid var(--jp-border-color2);
  border-top-color: var(--jp-brand-color1); animation: paved-spin 0.8s linear infinite;
}
@keyframes paved-spin { to { transform: rotate(360deg); } }
.paved-promote-success { color: var(--jp-success-color1); }
.paved-promote-dialog .jp-Dialog-content { max-height: min(90vh, 900px); }

/* Promote: the parameters cell's badge, a failed test run, the result's actions */
.paved-parameters-cell { position: relative; }
.paved-parameters-cell::after { content: 'parameters'; position: absolute; top: 2px; right: 8px; z-index: 2;
  font-size: 10px; font-weight: 600; padding: 1px 6px; border-radius: 8px; background: #1f6f5c; color: #fff;
  pointer-events: none; }
.paved-promote-failure { border-left: 4px solid var(--jp-error-color1); background: var(--jp-error-color3, #ffe3e3);
  padding: 6px 10px; margin-bottom: 10px; }
.paved-promote-failure pre { white-space: pre-wrap; max-height: 160px; overflow: auto; margin: 4px 0;
  font-size: var(--jp-code-font-size); }
.paved-promote-actions { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }

/* Data access (src/access.tsx) */
.paved-request-access, .paved-access-request { border-left: 3px solid var(--jp-brand-color1); padding: 4px 8px; margin: 8px 0; }
.paved-request-access label { display: flex; flex-direction: column; margin: 4px 0; font-size: var(--jp-ui-font-size1); }
.paved-request-access select, .paved-request-access input, .paved-request-access textarea { margin-top: 2px; }
.paved-request-access textarea { min-height: 3em; }
.paved-access-status { font-weight: 600; }
.paved-access-approved { border-left-color: var(--jp-success-color1); }
.paved-access-denied { border-left-color: var(--jp-error-color1); }
.paved-catalog-header { display: flex; align-items: center; justify-content: space-between; }
`,""]),o.d(a,{},{A:d})},606(e,a,o){var r=o(601),t=o.n(r),p=o(314),d=(o.n(p))()(t());d.push([e.id,`/* A dataset in the main area (src/dataset.tsx): header on top, the tabs fill the rest; the preview grid
   scrolls both ways so every column is reachable. */
.paved-dataset-panel {
  display: flex;
  flex-direction: column;
  height: 100%;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
}
.paved-dataset-panel > .paved-dataset-header { flex: 0 0 auto; overflow: visible; padding: 8px 16px 4px; }
.paved-dataset-panel > .paved-dataset-tabs { flex: 1 1 auto; min-height: 0; }
.paved-dataset-header h2.paved-dataset-name { margin: 0; font-size: var(--jp-content-font-size4); }
.paved-dataset-facts { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; margin: 6px 0; }
.paved-dataset-tabs .lm-TabBar { min-height: 28px; border-bottom: var(--jp-border-width) solid var(--jp-border-color1); }
.paved-dataset-tabs .lm-TabBar-tab {
  padding: 4px 14px;
  cursor: pointer;
  color: var(--jp-ui-font-color2);
  border-bottom: 2px solid transparent;
}
.paved-dataset-tabs .lm-TabBar-tab.lm-mod-current {
  color: var(--jp-ui-font-color0);
  border-bottom-color: var(--jp-brand-color1);
}
.paved-dataset-tab { overflow: auto; padding: 8px 16px; }
.paved-dataset-schema { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.paved-dataset-tab .paved-grid-scroll { overflow: auto; height: 100%; border: 1px solid var(--jp-border-color2); }
.paved-grid { font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size); white-space: nowrap; }
.paved-grid th { position: sticky; top: 0; cursor: pointer; user-select: none; background: var(--jp-layout-color2); }
.paved-grid th:hover { background: var(--jp-layout-color3); }
.paved-grid-type { font-weight: normal; font-size: var(--jp-ui-font-size0); }
.paved-grid-count { padding: 4px; }
.paved-dataset-tabs .paved-lineage { height: 100%; }
`,""]),o.d(a,{},{A:d})},46(e,a,o){var r=o(601),t=o.n(r),p=o(314),d=(o.n(p))()(t());d.push([e.id,`/* Freshness and quality checks, drawn: badges in the catalog's results and dataset header, the Quality tab's
   pass/fail grid, and the colours of dataset nodes in the lineage graph (dataset.tsx, catalog.tsx, lineage.tsx). */
.paved-fresh, .paved-checks { display: inline-flex; align-items: center; gap: 4px; border-radius: 9px; padding: 0 7px;
  font-size: var(--jp-ui-font-size0); font-weight: 600; line-height: 16px; white-space: nowrap; margin-right: 4px; }
.paved-fresh-dot { width: 7px; height: 7px; border-radius: 50%; background: currentColor; }
.paved-fresh--fresh { background: #e6f4ea; color: #1e7e34; border: 1px solid #7cc68d; }
.paved-fresh--late { background: #fdecea; color: #b3261e; border: 1px solid #e57373; }
.paved-fresh--unknown { background: var(--jp-layout-color2); color: var(--jp-ui-font-color2); border: 1px solid var(--jp-border-color1); }
.paved-checks--passed { background: #e6f4ea; color: #1e7e34; border: 1px solid #7cc68d; }
.paved-checks--warned { background: #fff4e0; color: #9a5b00; border: 1px solid #f2a541; }
.paved-checks--failed { background: #b3261e; color: white; border: 1px solid #b3261e; }
.paved-result-status { display: block; margin: 2px 0; }

.paved-quality-body { padding: 8px 12px; overflow: auto; }
.paved-quality-freshness { margin-bottom: 10px; }
.paved-quality-grid { display: block; }
.paved-quality-label { text-anchor: end; font-size: 11px; fill: var(--jp-ui-font-color1); font-family: var(--jp-code-font-family); }
.paved-quality-run--passed, .paved-quality-cell--passed { fill: #43a047; }
.paved-quality-run--failed, .paved-quality-cell--failed { fill: #d32f2f; }
.paved-quality-run--warned, .paved-quality-cell--warned { fill: #f2a541; }
.paved-quality-cell--none { fill: var(--jp-layout-color2); stroke: var(--jp-border-color2); }

.paved-lineage-node.paved-lineage-node--fresh > rect { stroke: #2e7d32; }
.paved-lineage-node.paved-lineage-node--late > rect { stroke: #c62828; fill: #fdecea; }
.paved-lineage-node.paved-lineage-node--check-failed > rect { stroke: #c62828; stroke-dasharray: 5 2; }
.paved-lineage-node .paved-lineage-status rect, .paved-lineage-node .paved-lineage-status circle { stroke-width: 0; stroke-dasharray: none; }
.paved-lineage-node .paved-lineage-status text { font-size: 9px; font-weight: 700; text-anchor: middle; fill: white; }
.paved-lineage-node .paved-lineage-fresh--fresh rect { fill: #2e7d32; }
.paved-lineage-node .paved-lineage-fresh--late rect { fill: #c62828; }
.paved-lineage-node .paved-lineage-fresh--unknown rect { fill: #9e9e9e; }
.paved-lineage-node .paved-lineage-checks--passed circle { fill: #2e7d32; }
.paved-lineage-node .paved-lineage-checks--warned circle { fill: #ef6c00; }
.paved-lineage-node .paved-lineage-checks--failed circle { fill: #c62828; }
.paved-legend--fresh::before { background: #e3f2fd; border: 2px solid #2e7d32; }
.paved-legend--late::before { background: #fdecea; border: 2px solid #c62828; }
.paved-legend--check-failed::before { background: #e3f2fd; border: 2px dashed #c62828; }
`,""]),o.d(a,{},{A:d})},842(e,a,o){var r=o(601),t=o.n(r),p=o(314),d=(o.n(p))()(t());d.push([e.id,`/* Paved status bar item and its panel (src/status.ts). Paved green as on the hub pages (hub/core/static/paved.css). */
.paved-StatusItem {
  border: none; background: transparent; color: var(--jp-ui-font-color1); font: inherit;
  font-size: var(--jp-ui-font-size1); padding: 0 6px; cursor: pointer; white-space: nowrap;
  border-left: 3px solid #1f6f5c;
}
.paved-StatusItem:hover { background: var(--jp-layout-color2); }
.paved-StatusPanel {
  position: fixed; left: 8px; bottom: 28px; z-index: 10000; min-width: 260px;
  background: var(--jp-layout-color1); color: var(--jp-ui-font-color1); font-size: var(--jp-ui-font-size1);
  border: 1px solid var(--jp-border-color1); border-top: 3px solid #1f6f5c; border-radius: 4px;
  box-shadow: var(--jp-elevation-z4); padding: 8px 12px;
}
.paved-StatusPanel dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0 0 8px; }
.paved-StatusPanel dt { color: var(--jp-ui-font-color2); }
.paved-StatusPanel dd { margin: 0; }
.paved-StatusPanel-links { display: flex; gap: 12px; }
.paved-StatusPanel-links a { color: #1f6f5c; }

/* The column view under the lineage graph (src/columns.tsx). */
.paved-columns { padding: 6px 10px; border-top: 1px solid var(--jp-border-color2); }
.paved-columns-flow { display: grid; grid-template-columns: 1fr auto 1fr; gap: 16px; margin-top: 6px; }
.paved-columns-flow h4 { margin: 0 0 4px; font-size: var(--jp-ui-font-size1); color: var(--jp-ui-font-color2); }
.paved-columns-flow ol { margin: 0; padding-left: 18px; }
.paved-columns-picked strong { border: 2px solid #1f6f5c; border-radius: 4px; padding: 2px 8px; }

/* The lineage graph's viewport: pan and zoom inside it (src/lineage.tsx). Same palette as the hub's charts. */
.paved-lineage-canvas { position: relative; overflow: hidden; padding: 0; min-height: 320px; }
.paved-lineage-viewport { position: absolute; inset: 0; }
.paved-lineage-viewport .paved-lineage-svg { width: 100%; height: 100%; cursor: grab; touch-action: none; }
.paved-lineage-zoom { position: absolute; top: 8px; right: 8px; z-index: 1; display: inline-flex; gap: 4px; }
.paved-lineage-node--dataset rect { fill: #e3f0fb; stroke: #3b8fd9; }
.paved-lineage-node--job rect { fill: #fdf0df; stroke: #f2a541; }
.paved-lineage-node--center rect { stroke: #1f6f5c; stroke-width: 4; }
.paved-lineage-node--collapsed rect { stroke-dasharray: 6 2; stroke-width: 2.5; }
.paved-lineage-node--path rect { stroke: #1f6f5c; stroke-width: 3; }
.paved-lineage-edge--path { stroke: #1f6f5c; stroke-width: 3; }
.paved-legend--collapsed::before { border-style: dashed !important; }
`,""]),o.d(a,{},{A:d})},314(e){e.exports=function(e){var a=[];return a.toString=function(){return this.map(function(a){var o="",r=void 0!==a[5];return a[4]&&(o+="@supports (".concat(a[4],") {")),a[2]&&(o+="@media ".concat(a[2]," {")),r&&(o+="@layer".concat(a[5].length>0?" ".concat(a[5]):""," {")),o+=e(a),r&&(o+="}"),a[2]&&(o+="}"),a[4]&&(o+="}"),o}).join("")},a.i=function(e,o,r,t,p){"string"==typeof e&&(e=[[null,e,void 0]]);var d={};if(r)for(var i=0;i<this.length;i++){var n=this[i][0];null!=n&&(d[n]=!0)}for(var l=0;l<e.length;l++){var s=[].concat(e[l]);r&&d[s[0]]||(void 0!==p&&(void 0===s[5]||(s[1]="@layer".concat(s[5].length>0?" ".concat(s[5]):""," {").concat(s[1],"}")),s[5]=p),o&&(s[2]&&(s[1]="@media ".concat(s[2]," {").concat(s[1],"}")),s[2]=o),t&&(s[4]?(s[1]="@supports (".concat(s[4],") {").concat(s[1],"}"),s[4]=t):s[4]="".concat(t)),a.push(s))}},a}},601(e){e.exports=function(e){return e[1]}},72(e){var a=[];function o(e){for(var o=-1,r=0;r<a.length;r++)if(a[r].identifier===e){o=r;break}return o}function r(e,r){for(var t={},p=[],d=0;d<e.length;d++){var i=e[d],n=r.base?i[0]+r.base:i[0],l=t[n]||0,s="".concat(n," ").concat(l);t[n]=l+1;var c=o(s),v={css:i[1],media:i[2],sourceMap:i[3],supports:i[4],layer:i[5]};if(-1!==c)a[c].references++,a[c].updater(v);else{var f=function(e,a){var o=a.domAPI(a);return o.update(e),function(a){a?(a.css!==e.css||a.media!==e.media||a.sourceMap!==e.sourceMap||a.supports!==e.supports||a.layer!==e.layer)&&o.update(e=a):o.remove()}}(v,r);r.byIndex=d,a.splice(d,0,{identifier:s,updater:f,references:1})}p.push(s)}return p}e.exports=function(e,t){var p=r(e=e||[],t=t||{});return function(e){e=e||[];for(var d=0;d<p.length;d++){var i=o(p[d]);a[i].references--}for(var n=r(e,t),l=0;l<p.length;l++){var s=o(p[l]);0===a[s].references&&(a[s].updater(),a.splice(s,1))}p=n}}},659(e){var a={};e.exports=function(e,o){var r=function(e){if(void 0===a[e]){var o=document.querySelector(e);if(window.HTMLIFrameElement&&o instanceof window.HTMLIFrameElement)try{o=o.contentDocument.head}catch(e){o=null}a[e]=o}return a[e]}(e);if(!r)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");r.appendChild(o)}},540(e){e.exports=function(e){var a=document.createElement("style");return e.setAttributes(a,e.attributes),e.insert(a,e.options),a}},56(e,a,o){e.exports=function(e){var a=o.nc;a&&e.setAttribute("nonce",a)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var a=e.insertStyleElement(e);return{update:function(o){var r,t,p;r="",o.supports&&(r+="@supports (".concat(o.supports,") {")),o.media&&(r+="@media ".concat(o.media," {")),(t=void 0!==o.layer)&&(r+="@layer".concat(o.layer.length>0?" ".concat(o.layer):""," {")),r+=o.css,t&&(r+="}"),o.media&&(r+="}"),o.supports&&(r+="}"),(p=o.sourceMap)&&"u">typeof btoa&&(r+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(p))))," */")),e.styleTagTransform(r,a,e.options)},remove:function(){var e;null===(e=a).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,a){if(a.styleSheet)a.styleSheet.cssText=e;else{for(;a.firstChild;)a.removeChild(a.firstChild);a.appendChild(document.createTextNode(e))}}},114(e,a,o){var r=o(72),t=o.n(r),p=o(825),d=o.n(p),i=o(659),n=o.n(i),l=o(56),s=o.n(l),c=o(540),v=o.n(c),f=o(113),u=o.n(f),g=o(475),x={};x.styleTagTransform=u(),x.setAttributes=s(),x.insert=n().bind(null,"head"),x.domAPI=d(),x.insertStyleElement=v(),t()(g.A,x),g.A&&g.A.locals&&g.A.locals;var b=o(842),h={};h.styleTagTransform=u(),h.setAttributes=s(),h.insert=n().bind(null,"head"),h.domAPI=d(),h.insertStyleElement=v(),t()(b.A,h),b.A&&b.A.locals&&b.A.locals;var m=o(606),y={};y.styleTagTransform=u(),y.setAttributes=s(),y.insert=n().bind(null,"head"),y.domAPI=d(),y.insertStyleElement=v(),t()(m.A,y),m.A&&m.A.locals&&m.A.locals;var j=o(46),w={};w.styleTagTransform=u(),w.setAttributes=s(),w.insert=n().bind(null,"head"),w.domAPI=d(),w.insertStyleElement=v(),t()(j.A,w),j.A&&j.A.locals&&j.A.locals}}]);