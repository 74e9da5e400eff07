#!/usr/bin/env node
// The `aof` command (src/cli/, compiled to dist/cli/): `aof --help`.
import { run } from '../dist/cli/main.js';

process.exitCode = await run(process.argv);
