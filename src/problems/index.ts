import { anisotropicBowl } from './anisotropic-bowl.js';
import { mnistMlp } from './mnist-mlp.js';
import { quadratic } from './quadratic.js';
import { rosenbrock } from './rosenbrock.js';
import { MODULE, moduleProblem } from './module.js';
import type { ProblemDef } from './types.js';

export type { Problem, ProblemContext, ProblemDef, Span } from './types.js';
export { OptionError } from './types.js';

export const PROBLEMS: Record<string, ProblemDef<any>> = {
  [anisotropicBowl.name]: anisotropicBowl,
  [rosenbrock.name]: rosenbrock,
  [quadratic.name]: quadratic,
  [mnistMlp.name]: mnistMlp,
};

/** The built-in problems, which a config names. */
export const PROBLEM_NAMES = Object.keys(PROBLEMS);

/** The definition a plan's problem descriptor names: a built-in problem, or a user's
 * module (`problem.module` in a config). */
export function problemDef(problem: { readonly name: string }): ProblemDef<any> {
  return problem.name === MODULE ? moduleProblem : PROBLEMS[problem.name];
}
