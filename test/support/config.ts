import { expect } from 'chai';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { REPO_ROOT } from './service.js';

export type Env = Record<string, string | undefined>;

/** The ConfigError loadConfig throws for env; fails the test if it accepts it (naming only the variables, never values). */
export function configError(env: Env): ConfigError {
  try {
    loadConfig(env, REPO_ROOT);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail(`loadConfig accepted ${JSON.stringify(Object.keys(env))}`);
}

/** The problems that name the variable, asserting there is at least one and that the message names it too. */
export function problemsAbout(err: ConfigError, variable: string): string[] {
  const about = err.problems.filter((p) => p.startsWith(`${variable}:`));
  expect(about, `a problem naming ${variable} in ${JSON.stringify(err.problems)}`).to.not.be.empty;
  expect(err.message).to.include(variable);
  return about;
}
