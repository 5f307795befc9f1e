import { config as loadDotenv } from 'dotenv';

// Variables already set in the environment win over .env.
const dotenv = loadDotenv({ quiet: true });
const args = process.argv.slice(2);

// One entry point for the server (no arguments, or `serve`) and the operator's commands; each loads
// only its own code, so that the server's start-up pays for none of the commands.
if (args.length === 0 || (args.length === 1 && args[0] === 'serve')) {
  void import('./serve.js').then(({ serve }) => serve(dotenv));
} else {
  void import('./admin/cli.js')
    .then(({ runCli }) => runCli(args))
    // Exits once what it printed is out: writes to a pipe are asynchronous on some systems (macOS).
    .then((code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code))));
}
