// Prints a fresh key pair as "SECRET_HEX PUBKEY_HEX" (for the command line
// of examples/private.c in scripts/test-examples.sh).

import { keys } from './common.mjs';

const k = keys();
console.log(Buffer.from(k.sk).toString('hex'), k.pk);
