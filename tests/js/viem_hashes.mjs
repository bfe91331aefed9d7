// Hash EIP-191 messages, EIP-712 typed data and ERC-4337 user operations with viem, for
// tests/enclave/eth/test_messages.py, test_typed_data.py and test_userop.py.
//
// stdin:  a JSON array of requests, each one of
//           {"kind": "message", "text": str}                 viem hashMessage(text)
//           {"kind": "message", "raw": "0x.."}               viem hashMessage({raw})
//           {"kind": "typedData", "typedData": {types, primaryType, domain, message}}
//           {"kind": "userOp", "version": "0.6" | "0.7", "entryPoint": "0x..", "chainId": "1",
//            "userOp": {camelCase fields}}
//         Integers travel as decimal strings (JSON numbers lose precision above 2**53); they become
//         BigInt here according to the declared types.
// stdout: a JSON array with, for each request, {"hash": "0x.."} or {"error": str}.
import { readFileSync } from 'node:fs'
import { hashMessage, hashTypedData } from 'viem'
import { getUserOperationHash } from 'viem/account-abstraction'

const INTEGER = /^u?int[0-9]+$/
const USEROP_QUANTITIES = [
  'nonce',
  'callGasLimit',
  'verificationGasLimit',
  'preVerificationGas',
  'maxFeePerGas',
  'maxPriorityFeePerGas',
  'paymasterVerificationGasLimit',
  'paymasterPostOpGasLimit',
]

// Turn the integer-typed values of `value` (of EIP-712 type `type`) into BigInt.
function revive(types, type, value) {
  if (type.endsWith(']')) {
    const inner = type.slice(0, type.lastIndexOf('['))
    return value.map((item) => revive(types, inner, item))
  }
  if (Object.hasOwn(types, type)) {
    const out = {}
    for (const field of types[type]) out[field.name] = revive(types, field.type, value[field.name])
    return out
  }
  return INTEGER.test(type) ? BigInt(value) : value
}

function typedDataHash({ types, primaryType, domain, message }) {
  const revivedDomain = { ...domain }
  if (domain.chainId !== undefined) revivedDomain.chainId = BigInt(domain.chainId)
  return hashTypedData({
    types,
    primaryType,
    domain: revivedDomain,
    message: revive(types, primaryType, message),
  })
}

function userOpHash({ version, entryPoint, chainId, userOp }) {
  const userOperation = { ...userOp }
  for (const key of USEROP_QUANTITIES) {
    if (userOperation[key] !== undefined) userOperation[key] = BigInt(userOperation[key])
  }
  return getUserOperationHash({
    chainId: Number(chainId) <= Number.MAX_SAFE_INTEGER ? Number(chainId) : BigInt(chainId),
    entryPointAddress: entryPoint,
    entryPointVersion: version,
    userOperation,
  })
}

function hash(request) {
  switch (request.kind) {
    case 'message':
      return request.raw !== undefined ? hashMessage({ raw: request.raw }) : hashMessage(request.text)
    case 'typedData':
      return typedDataHash(request.typedData)
    case 'userOp':
      return userOpHash(request)
    default:
      throw new Error(`unknown request kind ${request.kind}`)
  }
}

const requests = JSON.parse(readFileSync(0, 'utf8'))
const results = requests.map((request) => {
  try {
    return { hash: hash(request) }
  } catch (error) {
    return { error: String(error.shortMessage ?? error.message ?? error) }
  }
})
process.stdout.write(JSON.stringify(results))
