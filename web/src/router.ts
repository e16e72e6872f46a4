// A router of a few lines: the path is the state, links push history, back and forward work.

import { useEffect, useState } from "react";

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const [href, setHref] = useState(location.pathname + location.search);
  useEffect(() => {
    const on = () => setHref(location.pathname + location.search);
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  const url = new URL(href, location.origin);
  return { path: url.pathname, query: url.searchParams };
}

/** Where a signed-out visitor is sent, remembering where they were going. */
export function loginPath(): string {
  const here = location.pathname + location.search;
  return here.startsWith("/login") || here === "/" ? "/login" : `/login?next=${encodeURIComponent(here)}`;
}

/** Only paths on this site are followed after login: never another origin. */
export function safeNext(next: string | null, origin = location.origin): string {
  if (!next || !next.startsWith("/")) return "/instances";
  const url = new URL(next, origin);
  return url.origin === origin ? url.pathname + url.search + url.hash : "/instances";
}
