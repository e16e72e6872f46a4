import { useEffect, useRef, useState } from "react";
import { Terminal } from "@xterm/xterm";
import { socket } from "../api";
import { reattach } from "../reattach";
import type { ExecEnd } from "../types";

/** The largest frame the server takes from a client on an exec or console socket. */
const FRAME_MAX = 64 * 1024;

/** Sends `text` in frames the server takes (a large paste is more than one). */
function sendText(ws: WebSocket | null, text: string) {
  if (ws?.readyState !== WebSocket.OPEN) return;
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length; at += FRAME_MAX) ws.send(bytes.subarray(at, at + FRAME_MAX));
}

function terminal(into: HTMLElement): Terminal {
  const term = new Terminal({
    convertEol: true,
    cursorBlink: true,
    fontSize: 14,
    rows: 16,
    screenReaderMode: true,
    theme: { background: "#10151c" },
  });
  term.open(into);
  return term;
}

/** A shell in the instance over the exec WebSocket. The server runs commands without a
 *  terminal, so the line is edited and echoed here and sent whole on Enter; Ctrl-D ends stdin. */
export function Console({ instance, command = ["sh"] }: { instance: string; command?: string[] }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState("connecting");

  useEffect(() => {
    const term = terminal(box.current!);
    let ws: WebSocket | null = null;
    let line = "";
    let closed = false;
    const send = (text: string) => sendText(ws, text);

    term.onData((data) => {
      // The terminal's own replies to queries in the output (ESC [ ...) are not typing.
      if (data.startsWith("\x1b")) return;
      for (const ch of data) {
        if (ch === "\r") {
          term.write("\r\n");
          send(line + "\n");
          line = "";
        } else if (ch === "\x7f") {
          if (line) {
            line = line.slice(0, -1);
            term.write("\b \b");
          }
        } else if (ch === "\x04") {
          if (ws?.readyState === WebSocket.OPEN) ws.send(new Uint8Array(0));
        } else if (ch >= " ") {
          line += ch;
          term.write(ch);
        }
      }
    });

    void (async () => {
      try {
        ws = await socket(`/v1/instances/${encodeURIComponent(instance)}/exec`);
      } catch (e) {
        setStatus(`could not connect: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      if (closed) return ws.close();
      ws.onopen = () => {
        ws!.send(JSON.stringify({ command, stdin_open: true, timeout_secs: 3600 }));
        setStatus("connected");
        term.focus();
      };
      ws.onmessage = (m) => {
        if (typeof m.data === "string") {
          const end = JSON.parse(m.data) as ExecEnd;
          const said = end.error ? `error: ${end.error.message}` : `exited with ${end.exit_code}`;
          term.write(`\r\n[${said}]\r\n`);
          setStatus(said);
          return;
        }
        const frame = new Uint8Array(m.data as ArrayBuffer);
        term.write(frame.subarray(1));
      };
      ws.onclose = () => setStatus((s) => (s === "connected" ? "disconnected" : s));
    })();
    return () => {
      closed = true;
      ws?.close();
      term.dispose();
    };
  }, [instance, command.join("\0")]);

  return (
    <div className="console">
      <p className="hint" aria-live="polite">
        Shell: <span data-testid="console-status">{status}</span>. Type a command and press Enter; Ctrl-D ends input.
      </p>
      <div ref={box} className="terminal" data-testid="console" />
    </div>
  );
}

/** A VM's serial console over the console WebSocket: a real terminal line, so every key goes
 *  to the guest as typed and the guest echoes. */
export function SerialConsole({ instance, onLost }: { instance: string; onLost: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState("connecting");

  useEffect(() => {
    const term = terminal(box.current!);
    let ws: WebSocket | null = null;
    let closed = false;
    term.onData((data) => sendText(ws, data));
    let retry: ReturnType<typeof setTimeout> | undefined;
    // `again` counts attaches since the last that opened: one after the credential lapsed, and
    // more while the old session's seat is still being given back.
    const attach = async (again: number) => {
      try {
        ws = await socket(`/v1/instances/${encodeURIComponent(instance)}/console?kind=serial`);
      } catch (e) {
        setStatus(`could not connect: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      if (closed) return ws.close();
      let opened = false;
      ws.onopen = () => {
        opened = true;
        setStatus("connected");
        term.focus();
      };
      ws.onmessage = (m) => term.write(new Uint8Array(m.data as ArrayBuffer));
      ws.onclose = (e) => {
        if (closed) return;
        if (reattach(e.code, opened, again)) {
          setStatus("reconnecting");
          retry = setTimeout(() => void attach(opened ? 1 : again + 1), 1000);
          return;
        }
        // Refusals come before the upgrade, where a page cannot read them.
        setStatus(
          !opened
            ? "could not attach: another session may hold it, or the instance stopped"
            : e.code === 1000
              ? "the console ended"
              : `disconnected${e.reason ? `: ${e.reason}` : ""}`,
        );
        onLost();
      };
    };
    void attach(0);
    return () => {
      closed = true;
      clearTimeout(retry);
      ws?.close();
      term.dispose();
    };
  }, [instance]);

  return (
    <div className="console">
      <p className="hint" aria-live="polite">
        Serial console: <span data-testid="serial-status">{status}</span>. Keys go to the guest as typed.
      </p>
      <div ref={box} className="terminal" data-testid="serial" />
    </div>
  );
}
