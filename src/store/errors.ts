import { SensorwireError } from '../protocol/errors.ts';

/** Storage failed: the operation had no effect (a commit is all or nothing). */
export class StoreError extends SensorwireError {
  override name = 'StoreError';
  readonly code: 'STORE_OPEN' | 'STORE_WRITE' | 'STORE_READ' | 'STORE_CLOSED';
  constructor(code: StoreError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
