/**
 * A bounded read-ahead between a watch stream and its consumer: items are read from `source` as they come,
 * up to `depth` waiting items (EVENT_QUEUE_DEPTH), and the consumer takes everything waiting as one batch. A full
 * queue stops reading — TCP pushes back on the server — instead of spawning waiting senders as upstream does.
 * An error from `source` is rethrown after the items read before it. Leaving the loop early does not stop the
 * source: abort the signal the source was opened with; the pump then ends.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T[]> {
  const queue: T[] = [];
  let finished = false;
  let failure: { error: unknown } | undefined;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const notify = () => {
    const wake = wakeConsumer;
    wakeConsumer = undefined;
    wake?.();
  };
  const pump = (async () => {
    try {
      for await (const item of source) {
        queue.push(item);
        notify();
        while (queue.length >= depth && !finished) await new Promise<void>((resolve) => (wakeProducer = resolve));
        if (finished) break;
      }
    } catch (error) {
      failure = { error };
    } finally {
      finished = true;
      notify();
    }
  })();
  try {
    for (;;) {
      if (queue.length > 0) {
        const batch = queue.splice(0);
        const wake = wakeProducer;
        wakeProducer = undefined;
        wake?.();
        yield batch;
        continue;
      }
      if (finished) break;
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
    }
    if (failure) throw failure.error;
  } finally {
    finished = true;
    wakeProducer?.();
    // The pump ends once its source does (the caller aborts the source's signal when it leaves early).
    void pump;
  }
}
