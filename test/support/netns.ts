// The namespace pair lives in src/netns/pair.ts (`sensorwire experiment` uses it too); the tests
// keep importing it from here.
export * from '../../src/netns/pair.ts';
