import { SensorwireError } from '../protocol/errors.ts';

/** A transport could not do what was asked: bind, connect, send. */
export class TransportError extends SensorwireError {
  override name = 'TransportError';
  readonly code: 'BIND_FAILED' | 'CONNECT_FAILED' | 'CONNECT_TIMEOUT' | 'ABORTED' | 'CLOSED';
  constructor(code: TransportError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
