import { useEffect, useRef, useState } from "react";
import RFB from "@novnc/novnc";
import { socket } from "../api";
import { reattach } from "../reattach";

/** A VM's screen: noVNC speaking RFB over the console WebSocket, which the server relays to
 *  the VM's agent. A refusal comes before the upgrade, which a browser does not let the page
 *  read, so a socket that closes before it opened is explained from what the page knows. */
export function Screen({ instance, onLost }: { instance: string; onLost: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  const client = useRef<RFB | null>(null);
  const [status, setStatus] = useState("connecting");

  useEffect(() => {
    let closed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const attach = async (again: number) => {
      let ws: WebSocket;
      try {
        ws = await socket(`/v1/instances/${encodeURIComponent(instance)}/console?kind=vnc`);
      } catch (e) {
        setStatus(`could not connect: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      if (closed) return ws.close();
      let opened = false;
      let code = 0;
      ws.addEventListener("open", () => (opened = true));
      ws.addEventListener("close", (e) => (code = e.code));
      const rfb = new RFB(box.current!, ws, { shared: true });
      rfb.scaleViewport = true;
      rfb.focusOnClick = true;
      rfb.background = "#10151c";
      rfb.addEventListener("connect", () => setStatus("connected"));
      rfb.addEventListener("disconnect", () => {
        if (closed) return;
        client.current = null;
        if (reattach(code, opened, again)) {
          setStatus("reconnecting");
          retry = setTimeout(() => void attach(opened ? 1 : again + 1), 1000);
          return;
        }
        setStatus(opened ? "disconnected: the screen ended" : "could not attach: the instance may have stopped");
        onLost();
      });
      client.current = rfb;
    };
    void attach(0);
    return () => {
      closed = true;
      clearTimeout(retry);
      client.current?.disconnect();
      client.current = null;
    };
  }, [instance]);

  return (
    <div className="console">
      <p className="hint" aria-live="polite">
        Screen: <span data-testid="screen-status">{status}</span>. Click the screen (or Focus) to type into it.
      </p>
      <div className="actions">
        <button type="button" className="secondary" onClick={() => client.current?.focus()}>Focus</button>
        <button type="button" className="secondary" onClick={() => client.current?.sendCtrlAltDel()}>Send Ctrl-Alt-Del</button>
      </div>
      <div ref={box} className="screen" data-testid="screen" role="application" aria-label="The VM's screen" />
    </div>
  );
}
