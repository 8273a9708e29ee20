// SourceFiles
