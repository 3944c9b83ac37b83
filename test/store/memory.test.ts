import { MemoryStore } from '../../src/store/memory.ts';
import { storeCompliance } from './compliance.ts';

storeCompliance('memory', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});
