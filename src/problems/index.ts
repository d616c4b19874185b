import { anisotropicBowl } from './anisotropic-bowl.js';
import { mnistMlp } from './mnist-mlp.js';
import { quadratic } from './quadratic.js';
import { rosenbrock } from './rosenbrock.js';
import type { ProblemDef } from './types.js';

export type { Problem, ProblemContext, ProblemDef, Span } from './types.js';
export { OptionError } from './types.js';

export const PROBLEMS: Record<string, ProblemDef<any>> = {
  [anisotropicBowl.name]: anisotropicBowl,
  [rosenbrock.name]: rosenbrock,
  [quadratic.name]: quadratic,
  [mnistMlp.name]: mnistMlp,
};

export const PROBLEM_NAMES = Object.keys(PROBLEMS);
