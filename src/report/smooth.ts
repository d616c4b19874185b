/**
 * The book's `smooth_curve` (common/util.py), which draws its MNIST loss comparison:
 *
 *     window_len = 11
 *     s = np.r_[x[window_len-1:0:-1], x, x[-1:-window_len:-1]]
 *     w = np.kaiser(window_len, 2)
 *     y = np.convolve(w/w.sum(), s, mode='valid')
 *     return y[5:len(y)-5]
 *
 * A Kaiser window of 11 points (β = 2) over the series reflected at both ends. The
 * book's code returns nothing for fewer than 11 points; here they come back as they
 * are (too few to smooth).
 */
const WINDOW = 11;
const BETA = 2;

/** The modified Bessel function of the first kind, order 0 (its power series). */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200 && term > sum * 1e-17; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}

/** `np.kaiser(m, beta)`. */
export function kaiser(m: number, beta: number): number[] {
  if (m === 1) return [1];
  const alpha = (m - 1) / 2;
  return Array.from(
    { length: m },
    (_, n) => besselI0(beta * Math.sqrt(1 - ((n - alpha) / alpha) ** 2)) / besselI0(beta),
  );
}

export function smoothCurve(x: readonly number[]): number[] {
  const n = x.length;
  if (n < WINDOW) return [...x];
  const s: number[] = [];
  for (let i = WINDOW - 1; i > 0; i--) s.push(x[i]);
  s.push(...x);
  for (let i = n - 1; i > n - WINDOW; i--) s.push(x[i]);
  const w = kaiser(WINDOW, BETA);
  const total = w.reduce((a, b) => a + b, 0);
  // np.convolve flips the kernel; the Kaiser window is symmetric, so it is a dot product.
  const y: number[] = [];
  for (let i = 0; i + WINDOW <= s.length; i++) {
    let v = 0;
    for (let j = 0; j < WINDOW; j++) v += (w[WINDOW - 1 - j] / total) * s[i + j];
    y.push(v);
  }
  return y.slice(5, y.length - 5);
}
