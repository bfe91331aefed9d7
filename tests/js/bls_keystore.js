// Write EIP-2335 keystores with @chainsafe/bls-keystore, for tests/enclave/eth2/test_keystore.py.
//
// stdin:  a JSON array of {secret: hex (32 bytes), pubkey: hex (48 bytes), password, path, description,
//         kdf: {function: "scrypt", n, r, p} | {function: "pbkdf2", c}}
// stdout: a JSON array of the keystore JSON texts it writes (random salt, iv and uuid; the password
//         normalised as EIP-2335 says: NFKD, C0/C1 control codes and DEL removed).
'use strict'

const { create, defaultPbkdfModule, defaultScryptModule } = require('@chainsafe/bls-keystore')

function kdfModule(kdf) {
  if (kdf.function === 'scrypt') {
    const mod = defaultScryptModule()
    return { ...mod, params: { ...mod.params, n: kdf.n, r: kdf.r, p: kdf.p } }
  }
  const mod = defaultPbkdfModule()
  return { ...mod, params: { ...mod.params, c: kdf.c } }
}

async function encrypt(spec) {
  const keystore = await create(
    spec.password,
    Buffer.from(spec.secret, 'hex'),
    Buffer.from(spec.pubkey, 'hex'),
    spec.path,
    spec.description,
    kdfModule(spec.kdf),
  )
  return JSON.stringify(keystore)
}

const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', async () => {
  const specs = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const keystores = []
  for (const spec of specs) keystores.push(await encrypt(spec))
  process.stdout.write(JSON.stringify(keystores))
})
