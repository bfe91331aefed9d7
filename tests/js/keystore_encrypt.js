// Write Web3 Secret Storage v3 keystores with ethers v6, for tests/enclave/test_keystore.py.
//
// stdin:  a JSON array of {private_key: "0x..." (32 bytes), password, scrypt_n}
// stdout: a JSON array of the keystore JSON texts ethers writes (it names the object "Crypto" and
//         normalises the password to Unicode NFKC before deriving).
'use strict'

const { Wallet, encryptKeystoreJsonSync } = require('ethers')

function encrypt(spec) {
  const account = { address: new Wallet(spec.private_key).address, privateKey: spec.private_key }
  return encryptKeystoreJsonSync(account, spec.password, { scrypt: { N: spec.scrypt_n } })
}

const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  const specs = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  process.stdout.write(JSON.stringify(specs.map(encrypt)))
})
