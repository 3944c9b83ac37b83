import { createMemoryTransport } from '../../src/transport/index.ts';
import { Limits } from '../../src/protocol/index.ts';
import { transportCompliance } from './compliance.ts';

transportCompliance('memory', createMemoryTransport, { ordered: true, maxMessage: Limits.MAX_TCP_MESSAGE, connections: true });
