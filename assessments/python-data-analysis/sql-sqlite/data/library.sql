-- A small public library: members, books and loans (dates are ISO 8601 text).
CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, joined TEXT NOT NULL);
CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author TEXT NOT NULL, year INTEGER NOT NULL, genre TEXT NOT NULL);
CREATE TABLE loans (id INTEGER PRIMARY KEY, book_id INTEGER NOT NULL REFERENCES books(id),
                    member_id INTEGER NOT NULL REFERENCES members(id), loaned TEXT NOT NULL, due TEXT NOT NULL, returned TEXT);
INSERT INTO members VALUES
 (1, 'Amira Haddad', 'amira.haddad@example.org', '2021-04-12'),
 (2, 'Ben Okafor', 'ben.okafor@example.org', '2022-01-30'),
 (3, 'Chloe Martin', 'chloe.martin@example.org', '2020-09-05'),
 (4, 'Dev Patel', 'dev.patel@example.org', '2023-03-18'),
 (5, 'Eilidh Fraser', 'eilidh.fraser@example.org', '2023-11-02'),
 (6, 'Felix Wagner', 'felix.wagner@example.org', '2024-02-14');
INSERT INTO books VALUES
 (1, 'Python Crash Course', 'Eric Matthes', 2019, 'Computing'),
 (2, 'The Pragmatic Programmer', 'David Thomas', 2019, 'Computing'),
 (3, 'Data Science from Scratch', 'Joel Grus', 2019, 'Computing'),
 (4, 'Weapons of Math Destruction', 'Cathy O''Neil', 2016, 'Society'),
 (5, 'The Signal and the Noise', 'Nate Silver', 2012, 'Society'),
 (6, 'Invisible Women', 'Caroline Criado Perez', 2019, 'Society'),
 (7, 'Klara and the Sun', 'Kazuo Ishiguro', 2021, 'Fiction'),
 (8, 'Piranesi', 'Susanna Clarke', 2020, 'Fiction'),
 (9, 'The Midnight Library', 'Matt Haig', 2020, 'Fiction'),
 (10, 'Thinking, Fast and Slow', 'Daniel Kahneman', 2011, 'Society'),
 (11, 'Effective Pandas', 'Matt Harrison', 2021, 'Computing'),
 (12, 'Sea of Tranquility', 'Emily St. John Mandel', 2022, 'Fiction');
INSERT INTO loans VALUES
 (1, 1, 1, '2024-01-03', '2024-01-24', '2024-01-20'),
 (2, 7, 1, '2024-01-25', '2024-02-15', '2024-02-10'),
 (3, 4, 2, '2024-01-05', '2024-01-26', '2024-01-29'),
 (4, 8, 3, '2024-01-08', '2024-01-29', '2024-01-15'),
 (5, 2, 3, '2024-01-16', '2024-02-06', '2024-02-06'),
 (6, 9, 3, '2024-02-07', '2024-02-28', NULL),
 (7, 3, 4, '2024-02-01', '2024-02-22', '2024-02-12'),
 (8, 11, 4, '2024-02-13', '2024-03-05', NULL),
 (9, 5, 5, '2024-02-20', '2024-03-12', NULL),
 (10, 1, 2, '2024-02-01', '2024-02-22', '2024-02-21'),
 (11, 12, 1, '2024-02-12', '2024-03-04', NULL),
 (12, 6, 3, '2024-03-01', '2024-03-22', NULL);
