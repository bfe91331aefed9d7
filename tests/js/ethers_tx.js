// Sign transactions with ethers v6, for tests/enclave/eth/test_transactions.py.
//
// A long-lived process: each stdin line is a JSON array of {key, tx}; each answer is one stdout line, a
// JSON array of raw signed transactions ("0x..."), in order. `key` is a 0x-hex private key; `tx` uses the
// JSON-RPC field names (`gas`, not `gasLimit`), with every integer as a decimal string.
'use strict'

const readline = require('node:readline')
const { Wallet, Signature } = require('ethers')

const INTEGERS = ['chainId', 'nonce', 'gas', 'gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas', 'value',
  'maxFeePerBlobGas']

function ethersTransaction(tx) {
  const out = { type: tx.type, to: tx.to ?? null, data: tx.data ?? '0x' }
  for (const name of INTEGERS) if (name in tx) out[name === 'gas' ? 'gasLimit' : name] = BigInt(tx[name])
  if ('accessList' in tx) out.accessList = tx.accessList
  if ('blobVersionedHashes' in tx) out.blobVersionedHashes = tx.blobVersionedHashes
  if ('authorizationList' in tx) {
    out.authorizationList = tx.authorizationList.map((a) => ({
      chainId: BigInt(a.chainId),
      address: a.address,
      nonce: BigInt(a.nonce),
      signature: Signature.from({
        r: '0x' + BigInt(a.r).toString(16).padStart(64, '0'),
        s: '0x' + BigInt(a.s).toString(16).padStart(64, '0'),
        yParity: Number(a.yParity),
      }),
    }))
  }
  return out
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  for await (const line of lines) {
    const raws = []
    for (const { key, tx } of JSON.parse(line)) {
      raws.push(await new Wallet(key).signTransaction(ethersTransaction(tx)))
    }
    process.stdout.write(JSON.stringify(raws) + '\n')
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack) + '\n')
  process.exit(1)
})
