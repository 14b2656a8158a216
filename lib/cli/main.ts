// The `nestjs-pgflow` executable: bin/nestjs-pgflow.js requires the compiled file.
import { runCli } from './cli.runner';

// output piped into a reader that quit early (`| head`): stop quietly
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? 0);
});

void runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then((code) => {
  process.exitCode = code;
  // every pool is closed by now; should a socket still hold the event loop, do not hang
  setTimeout(() => process.exit(code), 5_000).unref();
});
