/** A point of a chart series: x is the step. Plain type, shared by the state and the helpers. */
export interface Point {
  x: number;
  y: number;
}
