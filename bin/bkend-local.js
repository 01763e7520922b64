#!/usr/bin/env node
import "../dist/src/local/cli.js"
