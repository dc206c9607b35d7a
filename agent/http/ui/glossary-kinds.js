// The kinds of status words the glossary explains, in the order the Glossary page lists them. No DOM here: the i18n
// test imports it to check every kind's entries. Keys: term.<kind>.<value> (plain name), term.<kind>.<value>.help.
export const GLOSSARY_KINDS = ['verdict', 'outcome', 'reason', 'camera', 'stationState', 'reference', 'health', 'component', 'mode', 'thresholdSource', 'trigger', 'queuePolicy', 'candidate', 'imageState', 'shiftCause', 'role'];
