use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Number(f64),
    Plus,
    Minus,
    Star,
    Slash,
    LeftParen,
    RightParen,
}

#[derive(Debug)]
pub struct ParseError {
    position: usize,
    message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error at {}: {}", self.position, self.message)
    }
}

impl std::error::Error for ParseError {}

pub fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => {
                i += 1;
            }
            '+' => {
                tokens.push(Token::Plus);
                i += 1;
            }
            '-' => {
                tokens.push(Token::Minus);
                i += 1;
            }
            '*' => {
                tokens.push(Token::Star);
                i += 1;
            }
            '/' => {
                tokens.push(Token::Slash);
                i += 1;
            }
            '(' => {
                tokens.push(Token::LeftParen);
                i += 1;
            }
            ')' => {
                tokens.push(Token::RightParen);
                i += 1;
            }
            '0'..='9' | '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let value = text.parse::<f64>().map_err(|e| ParseError {
                    position: start,
                    message: e.to_string(),
                })?;
                tokens.push(Token::Number(value));
            }
            _ => {
                return Err(ParseError {
                    position: i,
                    message: format!("unexpected character {:?}", c),
                })
            }
        }
    }
    Ok(tokens)
}

pub fn count_kinds(tokens: &[Token]) -> HashMap<&'static str, usize> {
    let mut counts = HashMap::new();
    for token in tokens {
        let kind = match token {
            Token::Number(_) => "number",
            Token::LeftParen | Token::RightParen => "paren",
            _ => "operator",
        };
        *counts.entry(kind).or_insert(0) += 1;
    }
    counts
}

fn main() {
    match tokenize("3 * (4 + 2.5) / 7") {
        Ok(tokens) => {
            for (kind, count) in count_kinds(&tokens) {
                println!("{}: {}", kind, count);
            }
        }
        Err(error) => eprintln!("{}", error),
    }
}
