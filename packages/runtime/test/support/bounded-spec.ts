/**
 * The small bounded pipeline the CLI tests run against a given buffer: a generator of `total`
 * messages (4 keys) into a 2-partition sink, as spec YAML.
 */
export function boundedSpecText(options: { name: string; buffer: string; total: number; sink?: string }): string {
  const { name, buffer, total, sink = "{ blackhole: {} }" } = options;
  return `apiVersion: weir.dev/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  buffer: ${buffer}
  limits: { readBatchSize: 50, readTimeout: 20ms }
  vertices:
    - name: in
      source: { generator: { total: ${total}, rpu: ${total * 2}, duration: 1s, msgSize: 16, keyCount: 4 } }
    - name: out
      partitions: 2
      sink: ${sink}
  edges:
    - { from: in, to: out }
`;
}
