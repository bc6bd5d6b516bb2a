// odradek for Node.js in one file: start a broker in-process, create a topic, produce with
// promises, read back with an async iterator and with a kafkajs-style consumer group.
//
//   scripts/test.d/45-node.sh test/exit.test.mjs   (or: cd node && npm ci && npm run build)
//   node examples/node/quickstart.js
'use strict'
const { Producer, Consumer, Admin, testing } = require('../../node')

async function main() {
  // Any Kafka works: pass its bootstrap servers instead of starting a broker here.
  const broker = await testing.Broker.start({ 'num.partitions': 3 })
  const bootstrap = broker.bootstrapServers

  const admin = new Admin({ 'bootstrap.servers': bootstrap })
  await admin.createTopics([{ topic: 'greetings', numPartitions: 3 }])

  const producer = new Producer({ 'bootstrap.servers': bootstrap, 'linger.ms': 5 })
  const reports = await Promise.all(
    ['alice', 'bob', 'carol'].map((name) =>
      producer.send({ topic: 'greetings', key: name, value: `hello ${name}`, headers: [['lang', 'en']] }),
    ),
  )
  for (const r of reports) console.log(`delivered to ${r.topic}/${r.partition} at offset ${r.offset}`)
  await producer.close()

  // Manual assignment, read as an async iterator.
  const reader = new Consumer({ 'bootstrap.servers': bootstrap })
  await reader.assign([0, 1, 2].map((partition) => ({ topic: 'greetings', partition, offset: 'earliest' })))
  let n = 0
  for await (const m of reader) {
    console.log(`${m.partition}@${m.offset} ${m.key} = ${m.value} (lang=${m.headers[0][1]})`)
    if (++n === 3) break
  }
  await reader.close()

  // A consumer group, kafkajs style.
  const member = new Consumer({ 'bootstrap.servers': bootstrap, 'group.id': 'greeters', 'auto.offset.reset': 'earliest' })
  member.on('assigned', (parts) => console.log(`assigned ${parts.map((p) => p.partition).join(', ')}`))
  member.subscribe(['greetings'])
  let seen = 0
  await new Promise((resolve) =>
    member.run({
      eachMessage: async ({ partition, message }) => {
        console.log(`group member got ${partition}@${message.offset}`)
        if (++seen === 3) resolve()
      },
    }),
  )
  await member.commit()
  await member.close()

  await admin.close()
  await broker.stop()
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
