// Reads an ISOXML task data zip with an independent implementation of ISO 11783-10
// (dev4Agriculture's isoxml, whose entities are generated from the standard's XSDs) and
// prints what it found as JSON: the parser's warnings, each task's treatment zones with
// their process data, and each time log's records. The web crate's as-applied test runs it
// on the server's TASKDATA.zip: `node isoxml-read.mjs FILE.zip`.
import { readFileSync } from 'node:fs'
import isoxml from 'isoxml'

const { ISOXMLManager } = isoxml
const file = process.argv[2]
const data = readFileSync(file)
const manager = new ISOXMLManager()
await manager.parseISOXMLFile(new Uint8Array(data.buffer, data.byteOffset, data.length), 'application/zip')

const root = manager.rootElement.attributes
const tasks = (root.Task || []).map(task => {
  const a = task.attributes
  const zones = (a.TreatmentZone || []).map(z => ({
    code: z.attributes.TreatmentZoneCode,
    name: z.attributes.TreatmentZoneDesignator,
    values: (z.attributes.ProcessDataVariable || []).map(p => ({
      ddi: p.attributes.ProcessDataDDI,
      value: p.attributes.ProcessDataValue,
    })),
  }))
  const timeLogs = (a.TimeLog || []).map(tl => {
    const info = tl.parseBinaryFile()
    return {
      name: tl.attributes.Filename,
      errors: tl.parsingErrors,
      values: info.valuesInfo.map(v => ({ key: v.valueKey, ddi: v.DDIString, element: v.deviceElementId })),
      records: info.timeLogs.map(r => ({
        time: r.time.toISOString(),
        north: r.position?.PositionNorth,
        east: r.position?.PositionEast,
        status: r.position?.PositionStatus,
        values: r.values,
      })),
    }
  })
  return { designator: a.TaskDesignator, status: a.TaskStatus, zones, timeLogs }
})
const devices = (root.Device || []).map(d => ({
  id: d.attributes.DeviceId,
  elements: (d.attributes.DeviceElement || []).length,
}))
console.log(JSON.stringify({ warnings: manager.getWarnings(), devices, tasks }))
