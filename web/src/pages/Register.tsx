import { useState, type FormEvent } from "react";
import { api, login } from "../api";
import { Field, Problem } from "../components/Field";
import { Link } from "../components/Link";
import { useAction } from "../fetching";
import { navigate } from "../router";
import * as check from "../validate";

export function Register() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<{ email?: string | null; password?: string | null }>({});
  const { busy, error, run } = useAction();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found = { email: check.email(email), password: check.password(password) };
    setErrors(found);
    if (found.email || found.password) return;
    const done = await run(async () => {
      await api("POST", "/v1/auth/register", { email: email.trim(), password });
      // A new account has no second factor yet: logging in gives the session at once.
      await login(email.trim(), password);
      return true;
    });
    if (done) navigate("/security", true);
  }

  return (
    <form className="card" onSubmit={submit} noValidate>
      <h2>Create an account</h2>
      <Field label="Email" name="email" type="email" autoComplete="username" value={email}
        error={errors.email} onChange={(e) => setEmail(e.target.value)} />
      <Field label="Password" name="password" type="password" autoComplete="new-password" value={password}
        error={errors.password} hint="At least 10 characters." onChange={(e) => setPassword(e.target.value)} />
      <Problem error={error} />
      <button type="submit" disabled={busy}>
        Register
      </button>
      <p>
        Have an account? <Link to="/login">Log in</Link>
      </p>
    </form>
  );
}
