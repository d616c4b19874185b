/**
 * Himmelblau's function, a problem of your own for sweep (configs/himmelblau.json):
 *
 *     f(x, y) = (x² + y − 11)² + (x + y² − 7)²
 *
 * Four minima, all f = 0: (3, 2), (−2.805118, 3.131312), (−3.779310, −3.283186)
 * and (3.584428, −1.848126). Which one an optimizer reaches depends on where it
 * starts: `start` gives a point per seed, on a circle of radius `radius` (option,
 * default 5) around the origin, or the point `start` (option) for every seed.
 */
export default {
  dim: () => 2,

  start(options, seed) {
    if (options.start) return options.start;
    const radius = options.radius ?? 5;
    // The golden angle: successive seeds spread evenly around the circle.
    const angle = seed * 2.399963229728653;
    return [radius * Math.cos(angle), radius * Math.sin(angle)];
  },

  evaluate(W, grad) {
    const [x, y] = W;
    const a = x * x + y - 11;
    const b = x + y * y - 7;
    grad[0] = 4 * a * x + 2 * b;
    grad[1] = 2 * a + 4 * b * y;
    return a * a + b * b;
  },
};
