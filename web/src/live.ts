// The event stream (`/v1/events`) held open while a page wants it: it reconnects with a fresh
// token when the server ends it (a session's access token lasts 15 minutes).

import { useEffect, useRef } from "react";
import { socket } from "./api";
import type { Event } from "./types";

export function useEvents(on: (e: Event) => void, onOpen?: () => void): void {
  const handler = useRef(on);
  const opened = useRef(onOpen);
  handler.current = on;
  opened.current = onOpen;
  useEffect(() => {
    let closed = false;
    let ws: WebSocket | null = null;
    let retry = 500;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = async () => {
      try {
        ws = await socket("/v1/events");
      } catch {
        if (!closed) timer = setTimeout(connect, (retry = Math.min(retry * 2, 10_000)));
        return;
      }
      if (closed) {
        ws.close();
        return;
      }
      ws.onopen = () => {
        retry = 500;
        // Whatever happened while the stream was down is fetched again.
        opened.current?.();
      };
      ws.onmessage = (m) => {
        if (typeof m.data === "string") handler.current(JSON.parse(m.data) as Event);
      };
      ws.onclose = () => {
        if (!closed) timer = setTimeout(connect, (retry = Math.min(retry * 2, 10_000)));
      };
    };
    void connect();
    return () => {
      closed = true;
      clearTimeout(timer);
      ws?.close();
    };
  }, []);
}

/** `fn`, run at most once per `ms` however often it is asked for (once more after the last ask):
 *  what a view reloads on events it does not control, such as every tenant's instances. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  latest.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  return useRef(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current();
    }, ms);
  }).current;
}
