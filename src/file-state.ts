/** The state of a file as its writer (`aof.state`) or a reader (`reader.state`) sees it. */
export const FileState = { Opening: 0, Opened: 1, EOF: 2, Closing: 3, Closed: 4 } as const;
export type FileState = (typeof FileState)[keyof typeof FileState];
