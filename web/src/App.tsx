import { useEffect, useState } from "react";
import { api, logout, session, type User } from "./api";
import { Link } from "./components/Link";
import { loginPath, navigate, useLocation } from "./router";
import { Login } from "./pages/Login";
import { Register } from "./pages/Register";
import { Security } from "./pages/Security";
import { Instances } from "./pages/Instances";
import { InstancePage } from "./pages/Instance";
import { Orgs } from "./pages/Orgs";
import { Billing } from "./pages/Billing";
import { Admin } from "./pages/Admin";
import { Tokens } from "./pages/Tokens";
import { Disks } from "./pages/Disks";
import { Buckets } from "./pages/Buckets";
import { Functions } from "./pages/Functions";

function useSignedIn(): boolean {
  const [signed, setSigned] = useState(() => session.get() !== null);
  useEffect(() => {
    const on = () => setSigned(session.get() !== null);
    window.addEventListener("nubes-session", on);
    window.addEventListener("storage", on);
    return () => {
      window.removeEventListener("nubes-session", on);
      window.removeEventListener("storage", on);
    };
  }, []);
  return signed;
}

const PUBLIC = ["/login", "/register"];

export function App() {
  const { path } = useLocation();
  const signedIn = useSignedIn();
  const [me, setMe] = useState<User | null>(null);

  useEffect(() => {
    if (!signedIn) {
      setMe(null);
      if (!PUBLIC.includes(path)) navigate(loginPath(), true);
      return;
    }
    if (path === "/" || PUBLIC.includes(path)) navigate("/instances", true);
    api<User>("GET", "/v1/auth/me").then(setMe, () => setMe(null));
  }, [signedIn, path]);

  if (!signedIn) {
    return (
      <main className="auth">
        <h1 className="brand">Nubes</h1>
        {path === "/register" ? <Register /> : <Login />}
      </main>
    );
  }
  const match = /^\/instances\/([^/]+)$/.exec(path);
  return (
    <>
      <header className="top">
        <Link to="/instances" className="brand">
          Nubes
        </Link>
        <nav aria-label="Main">
          <Link to="/instances" aria-current={path.startsWith("/instances") ? "page" : undefined}>
            Instances
          </Link>
          {[
            ["/disks", "Disks"],
            ["/buckets", "Buckets"],
            ["/functions", "Functions"],
            ["/orgs", "Organizations"],
            ["/billing", "Billing"],
            ["/security", "Security"],
            ...(me?.platform_admin ? [["/admin", "Admin"]] : []),
          ].map(([to, label]) => (
            <Link key={to} to={to} aria-current={path === to ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span className="who">{me?.email}</span>
        <button type="button" className="secondary" onClick={() => void logout().finally(() => navigate("/login", true))}>
          Log out
        </button>
      </header>
      <main>
        {path === "/security" ? (
          <>
            <Security me={me} onChange={setMe} />
            <Tokens />
          </>
        ) : path === "/disks" ? (
          <Disks />
        ) : path === "/buckets" ? (
          <Buckets />
        ) : path === "/functions" ? (
          <Functions />
        ) : path === "/orgs" ? (
          <Orgs />
        ) : path === "/billing" ? (
          <Billing />
        ) : path === "/admin" ? (
          <Admin />
        ) : match ? (
          <InstancePage id={decodeURIComponent(match[1])} />
        ) : (
          <Instances />
        )}
      </main>
    </>
  );
}
