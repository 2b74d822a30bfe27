package keystore

// SignatureAlgorithmFor lets the external tests check the algorithm NewCSR
// signs with for each key type.
var SignatureAlgorithmFor = signatureAlgorithmFor

// KeyTypes lets the external tests range over every key type.
var KeyTypes = keyTypes
