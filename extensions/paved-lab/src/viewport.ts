/**
 * Where the lineage graph's view starts: the whole graph when it fits at a zoom whose labels can be read,
 * otherwise the focal node (the centre, or the parent of a fan-out just expanded) at the smallest readable zoom,
 * the rest reachable by pan, zoom and "Fit all". Fitting a 200-node graph into a panel shrank its 13 px labels to
 * 2-3 px (issue 16, item 5).
 */
import { GraphLayout, NODE_HEIGHT, NODE_WIDTH } from './layout';

/** The node labels' font size in graph units (`.paved-lineage-label` in style/base.css). */
export const LABEL_FONT_PX = 13;
/** The smallest on-screen label size the first view may have: about the smallest text a UI still uses. */
export const MIN_LABEL_PX = 10;
/** The zoom at which labels are MIN_LABEL_PX on screen. */
export const READABLE_ZOOM = MIN_LABEL_PX / LABEL_FONT_PX;
/** The fitted view never enlarges a small graph past its natural size. */
const MAX_FIT_ZOOM = 1;

/** A view: scale `k` and the translation (`x`, `y`, in screen pixels) of the graph's origin. */
export interface View {
  k: number;
  x: number;
  y: number;
}

/** The whole layout centred in a `width` x `height` box (pixels), at a zoom between `minZoom` and 1. */
export function fitView(layout: GraphLayout, width: number, height: number, minZoom: number): View {
  const k = Math.min(MAX_FIT_ZOOM, Math.max(minZoom, Math.min(width / layout.width, height / layout.height)));
  return { k, x: (width - layout.width * k) / 2, y: (height - layout.height * k) / 2 };
}

/**
 * The first view of `layout` in a `width` x `height` box (pixels): fitted when that keeps labels at least
 * MIN_LABEL_PX, else node `focusId` (its middle) in the middle of the box at READABLE_ZOOM; a focus that is not
 * in the layout falls back to the graph's middle. `fitted` says which was chosen.
 */
export function initialView(
  layout: GraphLayout,
  width: number,
  height: number,
  focusId: string
): View & { fitted: boolean } {
  const fit = fitView(layout, width, height, 0);
  if (fit.k >= READABLE_ZOOM) {
    return { ...fit, fitted: true };
  }
  const k = READABLE_ZOOM;
  const focus = layout.nodes.find(n => n.id === focusId);
  const fx = focus ? focus.x + NODE_WIDTH / 2 : layout.width / 2;
  const fy = focus ? focus.y + NODE_HEIGHT / 2 : layout.height / 2;
  return { k, x: width / 2 - fx * k, y: height / 2 - fy * k, fitted: false };
}
