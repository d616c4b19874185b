/** The messages between the child-process executor and its children (as JSON text,
 * through codec.ts). */
import type { BatchRequest, LiveRun, PROTOCOL_VERSION } from '../protocol.js';
import type { ResultBatch } from '../results.js';

type V = { readonly v: typeof PROTOCOL_VERSION };

export type ChildMessage = V &
  (
    | { readonly kind: 'ping'; readonly id: number }
    | { readonly kind: 'pong'; readonly id: number }
    | { readonly kind: 'run'; readonly id: number; readonly request: BatchRequest }
    | { readonly kind: 'result'; readonly id: number; readonly result: ResultBatch }
    | {
        readonly kind: 'failed';
        readonly id: number;
        readonly error: string;
        /** The child cannot run any batch of this problem (its module cannot be
         * imported there): the sweep cannot go on. */
        readonly fatal?: boolean;
      }
    | { readonly kind: 'progress'; readonly run: LiveRun | null }
  );
