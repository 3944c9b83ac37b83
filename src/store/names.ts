// Run-time checks for the names a store keeps as text (and a caller might pass untyped).
import { DeliveryClass, ValueType, type DeliveryClassName, type ValueTypeName } from '../protocol/constants.ts';
import type { TransportName } from './types.ts';

const TRANSPORTS: readonly string[] = ['tcp', 'udp', 'rudp'] satisfies TransportName[];

function isTransport(x: string): x is TransportName {
  return TRANSPORTS.includes(x);
}

function isValueType(x: string): x is ValueTypeName {
  return Object.hasOwn(ValueType, x);
}

function isDelivery(x: string): x is DeliveryClassName {
  return Object.hasOwn(DeliveryClass, x);
}

export function checkTransport(x: string): TransportName {
  if (!isTransport(x)) throw new TypeError(`unknown transport ${JSON.stringify(x)}`);
  return x;
}

export function checkValueType(x: string): ValueTypeName {
  if (!isValueType(x)) throw new TypeError(`unknown value type ${JSON.stringify(x)}`);
  return x;
}

export function checkDelivery(x: string): DeliveryClassName {
  if (!isDelivery(x)) throw new TypeError(`unknown delivery class ${JSON.stringify(x)}`);
  return x;
}
