package eventstore

// QuerySettings are the settings scheduled queries run with.
var QuerySettings = querySettings
